from . import mailchimp_account
from . import mailchimp_audience
from . import mailchimp_merge_field
