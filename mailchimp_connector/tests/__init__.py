from . import test_mailchimp_account
from . import test_mailchimp_access
from . import test_mailchimp_tour
from . import test_mailchimp_sync
from . import test_mailchimp_sync_rules
from . import test_mailchimp_sync_faults
from . import test_mailchimp_activity
from . import test_mailchimp_webhook
