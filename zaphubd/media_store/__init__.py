"""Where media bytes live outside WhatsApp: inbound media kept for `config.storeMedia`, and
uploads staged between the API's 201 and the send worker (local files or S3)."""
