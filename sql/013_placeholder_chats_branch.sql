-- Placeholder on the feat/chats branch only: 013 belongs to another issue-15 branch.
-- It keeps the numbering gapless so this branch's 015 can run; drop this file when merging.
SELECT 1;
