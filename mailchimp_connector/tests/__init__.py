from . import test_mailchimp_account
from . import test_mailchimp_access
from . import test_mailchimp_tour
