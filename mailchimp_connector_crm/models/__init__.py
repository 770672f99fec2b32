# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import mailchimp_pairing
from . import mailchimp_sync_run
from . import crm_lead
from . import mailchimp_engagement_rule
from . import mailchimp_engagement_signal
from . import mailchimp_activity
from . import res_partner
