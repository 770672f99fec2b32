from . import mailchimp_account_reauthorize
