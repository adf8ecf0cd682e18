//! The seeded random generator that stands in for `get_random_*` (`drivers/char/random.c`), so every run with the same seed gives the same layout.
