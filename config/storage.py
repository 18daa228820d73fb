"""Static files storage for production (DEBUG off).

WhiteNoise's compressed manifest storage gives every file a content-hashed name (cached for a
year by browsers) plus gzip copies. The annotation page and the dashboard are ES modules that
import each other by relative path (``import { state } from "./state.js";``); a browser resolves
those against the importing file's URL, so under hashed names they must point at the hashed
siblings too, or a changed module would be served next to a stale cached import. Django rewrites
such import/export statements when ``support_js_module_import_aggregation`` is on.
"""
from whitenoise.storage import CompressedManifestStaticFilesStorage


class LongtailStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
