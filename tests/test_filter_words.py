"""Open choice filters read 全部 (All), never Django's placeholder dashes."""

import pytest
from django.urls import reverse

from gaizao.accounts.scoping import Role

from .conftest import make_user, page_client


@pytest.mark.django_db
def test_the_region_list_filters_read_all_when_open(zhejiang):
    page = page_client(make_user(Role.PROVINCE_ADMIN, username="filter-words")).get(reverse("regions:list"))
    html = page.content.decode()
    assert page.status_code == 200 and "---------" not in html
    assert '<option value="" selected>全部</option>' in html
