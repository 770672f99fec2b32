-- a neutralized copy (staging, test) must never talk to the production Mailchimp account
UPDATE mailchimp_account
   SET api_key = NULL,
       state = 'draft';
-- nor accept its webhook deliveries (the copy's URL differs; its secrets must not match)
UPDATE mailchimp_pairing
   SET webhook_token = NULL,
       webhook_id = NULL,
       webhook_state = 'none';
