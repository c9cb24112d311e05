from rest_framework.authentication import BaseAuthentication


class BackpackSignatureAuthentication(BaseAuthentication):
    def authenticate(self, request):  # type: ignore[no-untyped-def]
        return None
