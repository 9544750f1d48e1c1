"""python-qpid-proton is built from source; without libssl-dev at build time it lacks TLS."""

from proton import SSL


def test_proton_was_built_with_tls() -> None:
    assert SSL.present(), "python-qpid-proton has no SSL: reinstall it with gcc and libssl-dev present"
