from sshd import sftp_server  # noqa: F401
