"""Fixed identifiers of the default sandbox account.

Kept in one module so tests, the README and the reset logic agree on the same
values: a reset must always restore exactly this account and audience.
"""

DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef-us1"
DEFAULT_DC = "us1"
DEFAULT_ACCOUNT_NAME = "Sandbox Account"
DEFAULT_ACCOUNT_EMAIL = "owner@sandbox-mail.com"
DEFAULT_ACCOUNT_ID = "8d3a3db4d97663a9074efcc16"
DEFAULT_LIST_ID = "f0a1b2c3d4"
DEFAULT_LIST_NAME = "Newsletter"

# Limits documented by Mailchimp.
MAX_CONNECTIONS = 10
REQUEST_TIMEOUT = 120.0
MAX_COUNT = 1000
DEFAULT_COUNT = 10
MAX_BATCH_SUBSCRIBE = 500
MAX_SEGMENT_BULK = 500
MAX_PENDING_BATCHES = 500
MAX_MERGE_FIELDS = 30
MAX_MEMBER_ACTIVITY = 50
MAX_OPENS_CLICKS_PER_MEMBER = 1000
WEBHOOK_TIMEOUT = 10.0

ERROR_DOC_URL = "https://mailchimp.com/developer/marketing/docs/errors/"
WEBHOOK_VALIDATOR_UA = "MailChimp.com WebHook Validator"
WEBHOOK_DELIVERY_UA = "MailChimp"
