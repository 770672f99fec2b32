# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import mailchimp_sync_run
from . import mailchimp_pairing
from . import mailchimp_campaign
