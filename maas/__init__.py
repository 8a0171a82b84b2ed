"""MaaS: the CLI, the Python SDK and the generated protobuf code of the platform."""
