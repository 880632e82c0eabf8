"""The SELECT-level form shared by the compiler and the parser, and its printer."""
