# CASA site configuration for this project (read via CASASITECONFIG).
# Everything CASA needs lives inside the virtual environment: the measures
# and reference data come from the pinned `casadata` wheel, auto-updates are
# off (no network), and the cache never touches the user's ~/.casa.
import os
import sys
from importlib.util import find_spec as _find_spec

_spec = _find_spec("casadata")
measurespath = os.path.join(os.path.dirname(_spec.origin), "__data__") if _spec else None
datapath = [measurespath] if measurespath else []
measures_auto_update = False
data_auto_update = False
cachedir = os.path.join(sys.prefix, "casa-cache")
startupfile = os.path.join(cachedir, "startup.py")
logfile = os.environ.get("DSA110_CASA_LOGFILE", os.devnull)
nologger = True
nogui = True
agg = True
log2term = False
