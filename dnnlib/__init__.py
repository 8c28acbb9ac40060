"""dnnlib: utilities and the run-dir machinery; the TensorFlow helpers are the subpackage `dnnlib.tflib`.

Importing dnnlib does not import TensorFlow: tools that only need the utilities stay light.
"""

from . import submission

from .submission.run_context import RunContext

from .submission.submit import SubmitTarget
from .submission.submit import PathType
from .submission.submit import SubmitConfig
from .submission.submit import submit_run
from .submission.submit import get_path_from_template
from .submission.submit import convert_path
from .submission.submit import make_run_dir_path

from .util import EasyDict

submit_config = None  # The SubmitConfig of the run executing right now (set by submit_run), else None.
