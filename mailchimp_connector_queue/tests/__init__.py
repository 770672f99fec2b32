# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import test_queue_install
from . import test_queue_sync
from . import test_queue_activity
