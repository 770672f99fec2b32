-- a neutralized copy (staging, test) must never talk to the production Mailchimp account
UPDATE mailchimp_account
   SET api_key = NULL,
       state = 'draft';
