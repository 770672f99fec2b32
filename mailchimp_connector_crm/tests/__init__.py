# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import test_crm_install
from . import test_crm_leads
from . import test_crm_webhook
from . import test_crm_engagement
