"""Use-case compositions: rule types (one module each) and, later, their VLM prompts."""
