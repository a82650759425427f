from authplug.testing import AuthTypeContract


class TestShop(AuthTypeContract):
    auth_type = "example.shop"
