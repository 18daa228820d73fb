"""Signals of the items app."""
from django.dispatch import Signal

# Sent once an import has committed, with project= and batch= (the ImportBatch): e.g. to embed
# the new items. Not sent for a failed import (nothing was written).
items_imported = Signal()
# Sent after a lead's exclusion took picks out of open waves (``project``): their last
# unanswered picks may be gone, and the loop closes a wave left complete (labeling.loop.reactions).
picks_withdrawn = Signal()
