from . import mailchimp_account_reauthorize
from . import mailchimp_partner_add
from . import mailchimp_partner_optout_wizard
from . import mailchimp_partner_unsubscribe
from . import mailchimp_partner_forget
from . import mailchimp_sync_review
from . import mailchimp_sync_review_line
