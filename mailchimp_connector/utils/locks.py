"""The PostgreSQL advisory-lock keys of the addon (plain Python, no Odoo).

An advisory lock is taken on two int4 keys: one of these constants, naming what
is locked, and the id of the record it is locked for.
"""

# a sync (mailchimp.pairing id): one run or webhook delivery at a time
LOCK_SYNC = 7300
# an account's email-activity pull (mailchimp.account id): one pull at a time
LOCK_ACTIVITY = 7301
# an account's queued contact events and tags (mailchimp.account id): one sender
LOCK_CONTACT_EVENTS = 7302
# one campaign's activity pulled by a job (mailchimp_connector_queue), while the
# jobs hold LOCK_ACTIVITY of their account shared
LOCK_CAMPAIGN_ACTIVITY = 7303
