"""
What the application sees, as JSON on stdout. Before the migration it runs per tenant schema
(search_path); after it, on the unified tables as the application role, once per tenant with the
tenant set the way the generated middleware sets it (OASYS_TENANT_ID), and once with none.
Also exercises the middleware through Django's test client and creates rows without naming the tenant.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.admin.models import LogEntry  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from shop.models import Item, Note, Tag  # noqa: E402


def ct(c):
    return f'{c.app_label}.{c.model}' if c else None


def describe(obj):
    return f'{type(obj).__name__}:{obj}' if obj is not None else None


def facts(schema):
    return {
        'items': sorted(Item.objects.values_list('name', flat=True)),
        'notes': sorted([n.body, n.item.name if n.item else None] for n in Note.objects.all()),
        'tags': sorted([t.label, ct(t.content_type), describe(t.content_object)] for t in Tag.objects.all()),
        'logs': sorted([e.object_repr, ct(e.content_type), e.action_flag, e.user.username, describe(e.get_edited_object())] for e in LogEntry.objects.all()),
        'users': sorted([u.username, sorted(g.name for g in u.groups.all()), sorted(p.codename for p in u.user_permissions.all())] for u in User.objects.filter(username=f'clerk_{schema}')),
        'groups': sorted([g.name, sorted([ct(p.content_type), p.codename] for p in g.permissions.all())] for g in Group.objects.all()),
    }


def set_tenant(tenant_id):
    with connection.cursor() as c:
        c.execute('SELECT set_config(%s, %s, true)', [settings.OASYS_TENANT_SETTING, str(tenant_id)])


mode = sys.argv[1]
if mode == 'before':
    print(json.dumps(facts(os.environ['OASYS_DJANGO_SCHEMA'])))
elif mode == 'after':
    tenants = json.loads(sys.argv[2])  # {"acme": 2, …}
    out = {'tenants': {}, 'none': {}, 'created': {}, 'middleware': {}}
    for schema, tid in tenants.items():
        with transaction.atomic():
            set_tenant(tid)
            out['tenants'][schema] = facts(schema)
    # No tenant set: nothing at all, and no error.
    with transaction.atomic():
        out['none'] = {'items': Item.objects.count(), 'tags': Tag.objects.count(), 'logs': LogEntry.objects.count(), 'notes': Note.objects.count()}
    # Unchanged model code creates rows without naming the tenant: the column default stamps it.
    for schema, tid in tenants.items():
        with transaction.atomic():
            set_tenant(tid)
            item = Item.objects.create(name=f'new in {schema}')
            tag = Tag.objects.create(label='new tag', content_object=item)
            with connection.cursor() as c:
                c.execute('SELECT tenant_id::text FROM shop_item WHERE id = %s', [item.id])
                stamped = c.fetchone()[0]
            out['created'][schema] = {'tenant': stamped, 'tag': describe(Tag.objects.get(pk=tag.pk).content_object)}
    try:
        with transaction.atomic():
            Item.objects.create(name='no tenant')
        out['created']['none'] = 'accepted'
    except Exception as e:  # noqa: BLE001 - the kind of refusal is reported to the test
        out['created']['none'] = type(e).__name__ + ': ' + str(e).splitlines()[0]
    # Through the generated middleware, as a request would.
    from django.test import Client
    client = Client()
    for schema in tenants:
        r = client.get('/items/', HTTP_X_TENANT=schema)
        out['middleware'][schema] = r.json()['items']
        r = client.get('/add/', {'name': f'via request {schema}'}, HTTP_X_TENANT=schema)
        out['middleware'][schema + ':added'] = r.status_code
    r = client.get('/items/')
    out['middleware']['(none)'] = r.json()['items']
    print(json.dumps(out))
