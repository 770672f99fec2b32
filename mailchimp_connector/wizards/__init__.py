from . import mailchimp_account_reauthorize
from . import mailchimp_partner_add
