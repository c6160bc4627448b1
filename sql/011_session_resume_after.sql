-- A session held down until a moment: a temporarily banned account is not reconnected (that
-- would prolong the ban) until its ban has ended. Recovery leaves the row alone until then;
-- a reconnect or restart clears it.
ALTER TABLE sessions ADD COLUMN resume_after timestamptz;
