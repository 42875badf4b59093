-- One account per email address, whatever its capitalization: `email_key` is the trimmed,
-- lowercased email, unique. Existing rows: every address gets its key and is stored
-- lowercased, except where two accounts already share an address; there the oldest account
-- keeps the address (and its key), the others keep their exact spelling (they can still log
-- in with it) and no key, until an admin removes the duplicates.
ALTER TABLE users ADD COLUMN email_key TEXT;

UPDATE users SET email_key = lower(trim(email))
WHERE NOT EXISTS (
    SELECT 1 FROM users older
    WHERE lower(trim(older.email)) = lower(trim(users.email))
      AND (older.created_at < users.created_at
           OR (older.created_at = users.created_at AND older.id < users.id))
);

UPDATE users SET email = email_key
WHERE email_key IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM users other
    WHERE other.id <> users.id AND lower(trim(other.email)) = users.email_key
);

CREATE UNIQUE INDEX users_by_email_key ON users(email_key);
