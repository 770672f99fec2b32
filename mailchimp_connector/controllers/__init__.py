from . import failure_export
