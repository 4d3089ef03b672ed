"""Access control: which principal may do which action on which resource."""
