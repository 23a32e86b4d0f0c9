// Intentionally empty: this target only carries canopy_fuzz_driver.h.
