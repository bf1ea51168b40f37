"""From received rows to RAW DATA and from RAW DATA to clean, validated rows."""
