from . import failure_export
from . import mailchimp_webhook
