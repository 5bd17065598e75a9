"""Seeds one tenant schema through Django's ORM (OASYS_APPSET=tenant, search_path = the tenant)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')
import django  # noqa: E402

django.setup()

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry  # noqa: E402
from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from shop.models import Item, Note, Tag  # noqa: E402

tenant = sys.argv[1]
n = int(sys.argv[2])
admin = User.objects.create(username='admin', is_staff=True)
clerk = User.objects.create(username=f'clerk_{tenant}')
group = Group.objects.create(name='clerks')
group.permissions.add(Permission.objects.get(codename='add_item'), Permission.objects.get(codename='view_tag'))
clerk.groups.add(group)
clerk.user_permissions.add(Permission.objects.get(codename='change_note'))
items = [Item.objects.create(name=f'{tenant} item {i}') for i in range(1, n + 1)]
notes = [Note.objects.create(body=f'{tenant} note {i}', item=items[i % len(items)]) for i in range(1, n)]
for obj in items[:3] + notes[:2]:
    Tag.objects.create(label=f'tag of {obj}', content_object=obj)
# A tag that points at a user (auth.user: a content type public has too, with another id).
Tag.objects.create(label='tag of a user', content_object=clerk)
for obj in items[:2] + notes[:1]:
    LogEntry.objects.log_action(admin.id, ContentType.objects.get_for_model(obj).id, obj.id, str(obj), ADDITION, '[]')
LogEntry.objects.log_action(clerk.id, ContentType.objects.get_for_model(group).id, group.id, 'clerks', CHANGE, '[]')
