//! The interpreter configuration pyo3 was built for, as cfgs of this crate:
//! `Py_GIL_DISABLED` when building the free-threaded module (`make ft-module`).

fn main() {
    pyo3_build_config::print_expected_cfgs();
    pyo3_build_config::use_pyo3_cfgs();
}
