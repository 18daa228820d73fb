"""Signals of the items app."""
from django.dispatch import Signal

# Sent once an import has committed, with project= and batch= (the ImportBatch): e.g. to embed
# the new items. Not sent for a failed import (nothing was written).
items_imported = Signal()
