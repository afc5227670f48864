"""The reader model: does this text answer this question? Used to pick an answer, to decline
when nothing retrieved answers, and to check that an answer answers."""
