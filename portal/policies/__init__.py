"""Tag policies: immutability rules, the tags' time machine, and retention."""
