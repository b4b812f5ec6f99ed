from django.urls import path

from modules.lti import views

urlpatterns = [
    path("login/", views.login_initiation, name="lti-login"),
    path("launch/", views.launch, name="lti-launch"),
    path("jwks/", views.jwks, name="lti-jwks"),
]
