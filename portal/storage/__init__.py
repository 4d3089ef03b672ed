"""What distribution stores, known to the portal: the blob index, garbage collection and its runs."""
