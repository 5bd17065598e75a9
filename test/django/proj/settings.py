"""
A small django-tenants style project, without django-tenants (not installable here): the
layout it produces is emulated by running Django's own `migrate` once for the shared schema
(OASYS_APPSET=shared, search_path public) and once per tenant schema (OASYS_APPSET=tenant,
search_path = that schema only, as django-tenants' migrate_schemas does).
After oasys-migrate, OASYS_APPSET=unified is the same project as one ordinary Django app on
the unified tables: every app installed once, search_path public, the row tenant middleware.
The connection comes from the environment (OASYS_DJANGO_*), never from this file.
"""
import os

SECRET_KEY = 'test-only-not-secret'
DEBUG = False
ALLOWED_HOSTS = ['*']
USE_TZ = True
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'
ROOT_URLCONF = 'proj.urls'

# django-tenants' recommended split: contenttypes and auth in both lists, admin per tenant.
SHARED_APPS = ['customers', 'django.contrib.contenttypes', 'django.contrib.auth']
TENANT_APPS = ['django.contrib.contenttypes', 'django.contrib.auth', 'django.contrib.admin', 'shop']

APPSET = os.environ.get('OASYS_APPSET', 'unified')
if APPSET == 'shared':
    INSTALLED_APPS = SHARED_APPS
elif APPSET == 'tenant':
    # OASYS_TENANT_FIRST=shop: this tenant's own app was migrated first, so its content-type ids differ.
    INSTALLED_APPS = TENANT_APPS
else:
    INSTALLED_APPS = SHARED_APPS + [a for a in TENANT_APPS if a not in SHARED_APPS]

MIDDLEWARE = ['rowtenant.middleware.RowTenantMiddleware'] if APPSET == 'unified' else []
TEMPLATES = []
# The admin app's checks want sessions, messages and templates for its web pages, which this
# data-only fixture does not serve.
SILENCED_SYSTEM_CHECKS = ['admin.E403', 'admin.E406', 'admin.E408', 'admin.E409', 'admin.E410']

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': os.environ['OASYS_DJANGO_DB'],
        'USER': os.environ['OASYS_DJANGO_USER'],
        'PASSWORD': os.environ.get('OASYS_DJANGO_PASSWORD', ''),
        'HOST': os.environ.get('OASYS_DJANGO_HOST', 'localhost'),
        'PORT': os.environ.get('OASYS_DJANGO_PORT', '5432'),
        'OPTIONS': {'options': '-c search_path=' + os.environ.get('OASYS_DJANGO_SCHEMA', 'public')},
        # The row tenant middleware needs the request in one transaction (set_config(…, true)).
        'ATOMIC_REQUESTS': APPSET == 'unified',
    }
}
# Where the tenant id is read from, for the middleware.
OASYS_TENANT_SETTING = 'app.current_tenant'
