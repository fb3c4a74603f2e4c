"""Dataset layer: images, tables, the normalised poster table, vocabulary and splits."""
