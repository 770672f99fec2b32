from . import test_mailchimp_account
from . import test_mailchimp_access
