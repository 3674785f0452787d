"""The optimiser wired to the plans: instances from the pool and budgets, the CLI, the page, adoption, the job."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from gaizao.core.errors import ServiceError
from gaizao.core.job_kinds import job_kind_label, job_result_rows, job_result_url
from gaizao.core.jobs import execute_job, job_start
from gaizao.core.models import AuditEntry, JobStatus
from gaizao.estates.models import EstateStatus, RenovationProject
from gaizao.plans import optimiser, selectors, services
from gaizao.plans.models import OptimisationRun, PlanBudget, PlanEvent, TargetMeasure
from gaizao.plans.templatetags.plans_tags import whole
from gaizao.regions.models import Region

from .conftest import merged_project, pool_estate


@pytest.fixture
def xihu_pool(xihu, people):
    """Ten pool estates of 西湖区 (one merged project of two), with budgets for three years."""
    estates = [pool_estate("330106", households=100 + 20 * i, floor_area=str(8000 + 1000 * i), priority=str(40 + 5 * i),
                           classes=("basic", "improvement")) for i in range(8)]
    street = estates[0].region
    project = RenovationProject.objects.create(code="P330106TEST", name="测试片区", region=street, county=xihu)
    members = [pool_estate("330106", households=150, floor_area="12000", priority="60", project=project)
               for _ in range(2)]
    late = pool_estate("330106", pool_year=2021)
    # the seed's model estate (样板) was due by the end of 2019: 西湖区 built one then
    built = pool_estate("330106", status=EstateStatus.SURVEYED)
    services.model_estate_register(actor=people["county"], estate=built, completed_on="2019-12-15")
    for year, amount in ((2020, "1200"), (2021, "1500"), (2022, "1500")):
        services.budget_set(actor=people["county"], county=xihu, year=year, budget_wan=amount)
    return {"estates": estates, "project": project, "members": members, "late": late}


@pytest.mark.django_db
def test_the_instance_comes_from_the_pool_and_budgets(xihu_pool, xihu, period):
    groups, info = selectors.optimiser_instances(xihu, period)
    assert len(groups) == 1 and info["candidates"] == 10
    inst = groups[0].instance
    by_id = {c.id: c for c in inst.candidates}
    project = by_id[f"p{xihu_pool['project'].pk}"]
    assert project.estates == 2 and project.households == 300 and project.floor_area == Decimal("24000")
    # a project's cost is its estates' estimates: 2 × 12,000 m² × 200 元/m² (basic only)
    assert project.cost_wan == Decimal("480")
    assert by_id[f"e{xihu_pool['late'].pk}"].earliest_year == 2021
    first = by_id[f"e{xihu_pool['estates'][0].pk}"]
    assert first.cost_wan == Decimal("8000") * 300 / 10000 and first.priority == 40 and first.model_eligible
    assert inst.budgets[("330106", 2020)] == Decimal("1200")
    assert inst.unit == "estates" and inst.model_rule.deadline == 2019 and inst.model_rule.calendar
    assert [t.year for t in inst.targets] == [2020, 2022]


@pytest.mark.django_db
def test_counties_with_other_rules_get_their_own_instance(xihu_pool, people, period):
    services.target_rule_save(actor=people["province"], region=Region.objects.get(code="330106"),
                              measure=TargetMeasure.HOUSEHOLDS)
    pool_estate("330102")
    hangzhou = Region.objects.get(code="3301")
    groups, _info = selectors.optimiser_instances(hangzhou, period, budgets=None)
    assert sorted(g.instance.unit for g in groups) == ["estates", "households"]
    result = selectors.run_optimiser(hangzhou, period, time_limit=20)
    parts = [optimiser.optimise(g.instance, time_limit=10).objective for g in groups]
    assert result["objective"] == pytest.approx(sum(parts), rel=1e-6)
    # 上城区 has no budget for the period while 西湖区 has: 上城区 is not limited by money, and is named
    assert result["unbudgeted"] == ["330102"]
    assert {r["county"] for r in result["schedule"]} == {"330106", "330102"}
    # with one year set, the years left out have no money, and the reasons say so
    services.budget_set(actor=people["city"], county=Region.objects.get(code="330102"), year=2021, budget_wan="900")
    result = selectors.run_optimiser(hangzhou, period, time_limit=20)
    assert result["unbudgeted"] == []
    assert any(r["county"] == "330102" and r["code"] == "budget_short_of_target" for r in result["reasons"])
    services.budget_set(actor=people["city"], county=Region.objects.get(code="330102"), year=2020, budget_wan="900")
    services.model_estate_register(actor=None, estate=pool_estate("330102", status=EstateStatus.SURVEYED),
                                   completed_on="2019-10-01")
    result = selectors.run_optimiser(hangzhou, period, time_limit=20)
    assert {r["county"] for r in result["schedule"]} == {"330106", "330102"} and result["feasible"]


@pytest.mark.django_db
def test_cli_prints_the_fields_and_the_schedule(xihu_pool, tmp_path):
    out = StringIO()
    call_command("plan_optimize", "--region", "330106", "--period", "2020-2022", "--json", stdout=out)
    data = json.loads(out.getvalue())
    for key in ("objective", "bound", "gap", "greedy_objective", "feasible", "reasons", "schedule"):
        assert key in data
    assert data["feasible"] is True and data["reasons"] == []
    assert data["gap"] <= 0.005 and data["objective"] <= data["bound"] + 1e-6
    groups, _ = selectors.optimiser_instances(Region.objects.get(code="330106"), services.period_default())
    schedule = {row["id"]: row["year"] for row in data["schedule"]}
    assert optimiser.verify_schedule(groups[0].instance, schedule) == []
    text = StringIO()
    call_command("plan_optimize", "--region", "330106", stdout=text)
    assert "greedy_objective" in text.getvalue() and "schedule" in text.getvalue()


@pytest.mark.django_db
def test_cli_budget_file_and_infeasibility_in_words(xihu_pool, tmp_path):
    tight = tmp_path / "tight.csv"
    tight.write_text("county,year,budget_wan\n330106,2020,300\n330106,2021,3000\n330106,2022,3000\n",
                     encoding="utf-8")
    out = StringIO()
    call_command("plan_optimize", "--region", "330106", "--period", "2020-2022", "--budget-file", str(tight),
                 "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["feasible"] is False
    words = " ".join(r["message"] for r in data["reasons"])
    assert "西湖区" in words and "2020" in words and "target 30%" in words
    bad = tmp_path / "bad.csv"
    bad.write_text("county,year,budget_wan\n330106,twenty,5\n", encoding="utf-8")
    with pytest.raises(CommandError, match="row 2, year"):
        call_command("plan_optimize", "--region", "330106", "--budget-file", str(bad), stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("plan_optimize", "--region", "999999", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("plan_optimize", "--region", "330106", "--period", "2022-2020", stdout=StringIO())
    with pytest.raises(CommandError, match="no such file"):
        call_command("plan_optimize", "--region", "330106", "--budget-file", str(tmp_path / "none.csv"),
                     stdout=StringIO())


@pytest.mark.django_db
def test_cli_budget_file_is_always_read_as_a_file_and_named_when_it_cannot_be(xihu_pool, tmp_path):
    def refused(name):
        with pytest.raises(CommandError) as caught:
            call_command("plan_optimize", "--region", "330106", "--budget-file", name, stdout=StringIO())
        return str(caught.value)

    # a name with a comma was taken for CSV text ("the column county is missing")
    missing = tmp_path / "budgets,2021.csv"
    assert refused(str(missing)) == f"{missing}: no such file"
    assert refused(str(tmp_path)) == f"{tmp_path}: is a directory, not a CSV file"
    latin = tmp_path / "latin.csv"
    latin.write_bytes("county,year,budget_wan\n330106,2020,5\n# café\n".encode("latin-1"))
    assert refused(str(latin)) == f"{latin}: neither UTF-8 nor GBK text"
    bad = tmp_path / "bad,file.csv"
    bad.write_text("county,year,budget_wan\n330106,2020,-5\n", encoding="utf-8")
    assert refused(str(bad)).startswith(f"{bad}: row 2, budget_wan")
    # a real file with a comma in its name is read as the file it is
    good = tmp_path / "budgets,v2.csv"
    good.write_text("\ufeffcounty,year,budget_wan\n330106,2020,300\n330106,2021,3000\n330106,2022,3000\n",
                    encoding="utf-8")
    out = StringIO()
    call_command("plan_optimize", "--region", "330106", "--budget-file", str(good), "--json", stdout=out)
    assert json.loads(out.getvalue())["feasible"] is False  # 300 万元 in 2020 is short of the 30% target


@pytest.mark.django_db
def test_the_page_proposes_and_the_county_adopts_part_then_all(xihu_pool, people, xihu, period):
    county = people["county"]
    plan = services.plan_create(actor=county, county=xihu, period=period)
    # the county's own start: the three lowest-priority estates, all in 2022
    for e in xihu_pool["estates"][:3]:
        services.plan_item_add(actor=county, plan=plan, estate=e, year=2022)
    client = Client()
    client.force_login(county)
    assert client.post(reverse("plans:optimise", args=[plan.pk])).status_code == 302
    run = OptimisationRun.objects.get()
    page = client.get(reverse("plans:optimise", args=[plan.pk])).content.decode()
    assert 'data-testid="proposal"' in page and 'name="key"' in page
    view = selectors.proposal_view(run, plan)
    differing = [r["key"] for r in view["rows"] if r["differs"]]
    assert differing
    # adopt one difference
    one = differing[0]
    client.post(reverse("plans:adopt", args=[plan.pk]), {"run": run.pk, "key": [one]})
    current = {i.subject_key: i.year for i in plan.items.all()}
    proposed = {r["id"]: r["year"] for r in run.result["schedule"]}
    assert current.get(one) == proposed.get(one)
    # adopt everything: the plan is the proposal
    client.post(reverse("plans:adopt", args=[plan.pk]), {"run": run.pk, "all": "1"})
    current = {i.subject_key: i.year for i in plan.items.all()}
    assert current == proposed
    assert selectors.proposal_view(run, plan)["differences"] == 0
    assert plan.items.filter(project=xihu_pool["project"]).exists()
    assert AuditEntry.objects.filter(verb="plans.apply_schedule", region_code="330106").exists()
    assert PlanEvent.objects.filter(plan=plan, transition="adopt").count() == 2
    # the plan now meets its targets as the optimiser said
    assert all(c.meets for c in selectors.plan_checks(plan).checks if c.kind == "share")
    # a city official may look but not adopt
    city = Client()
    city.force_login(people["city"])
    assert city.get(reverse("plans:optimise", args=[plan.pk])).status_code == 200
    assert city.post(reverse("plans:adopt", args=[plan.pk]), {"run": run.pk, "all": "1"}).status_code == 403


@pytest.mark.django_db
def test_infeasible_proposal_names_the_binding_constraint_on_the_page(xihu_pool, people, xihu, period):
    services.budget_set(actor=people["county"], county=xihu, year=2020, budget_wan="200")
    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    client = Client()
    client.force_login(people["county"])
    client.post(reverse("plans:optimise", args=[plan.pk]))
    page = client.get(reverse("plans:optimise", args=[plan.pk])).content.decode()
    assert 'data-testid="reasons"' in page
    assert "西湖区 2020年预算" in page and "目标30%" in page  # the optimiser's Chinese sentence
    client.cookies["django_language"] = "en"
    page = client.get(reverse("plans:optimise", args=[plan.pk])).content.decode()
    assert "西湖区 2020 budget" in page and "target 30%" in page


@pytest.mark.django_db
def test_a_bad_budget_upload_is_a_message_not_a_500(xihu_pool, people, xihu, period):
    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    client = Client()
    client.force_login(people["county"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    for content in (b"county,year\n330106,2020\n", b"\xff\xfe\x00garbage", b"county,year,budget_wan\n330105,2020,5\n"):
        r = client.post(reverse("plans:optimise", args=[plan.pk]),
                        {"budget_file": SimpleUploadedFile("b.csv", content, content_type="text/csv")})
        assert r.status_code in (302, 403, 404), r.status_code
    assert not OptimisationRun.objects.exists()


@pytest.mark.django_db
def test_a_city_wide_run_is_a_job(xihu_pool, people):
    hangzhou = Region.objects.get(code="3301")
    job = job_start(actor=people["city"], kind="plans.optimise", region=hangzhou,
                    params={"region": "3301", "period": "2020-2022", "time_limit": 20})
    assert execute_job(job) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    run = OptimisationRun.objects.get(pk=job.result["run"])
    assert run.region == hangzhou and job.result["feasible"] is True
    # the job pages name the kind, list its result in words and link to the run's page
    assert job_kind_label("plans.optimise") == "排程优化"
    rows = dict(job_result_rows(job))
    assert rows["候选项目"] == "10" and rows["满足全部规则"] == "是"
    url = job_result_url(job)
    assert url == reverse("plans:region-optimise") + "?region=3301&period=2020-2022"
    client = Client()
    client.force_login(people["city"])
    summary = client.get(url).content.decode().split('data-testid="run-summary"', 1)[1].split("</div>\n</div>")[0]
    # the objective reads the same on the job page and the run's page: a whole number (514,541 on both, not
    # 514,540.89 beside 514541)
    shown = whole(run.result["objective"])
    assert rows["建议方案（目标值）"] == shown and f"<strong>{shown}</strong>" in summary
    assert whole(514540.8937) == "514,541" and whole(1999.5) == "2000" and whole(None) == "—"
    assert url.replace("&", "&amp;") in client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    # a county official of another city cannot start one for Hangzhou
    assert not services.can_optimise(people["sibling_county"], hangzhou)
    assert not services.can_optimise(people["county"], hangzhou)


@pytest.mark.django_db
def test_budget_import_is_all_or_nothing(people, xihu, period):
    services.budgets_import(actor=people["city"], source="county,year,budget_wan\n330106,2020,100\n330102,2020,50\n")
    from gaizao.plans.models import PlanBudget

    assert PlanBudget.objects.count() == 2
    with pytest.raises(Exception) as err:
        services.budgets_import(actor=people["city"], source="county,year,budget_wan\n330106,2021,1\n330203,2021,1\n")
    assert err.value.code == "budget_file_invalid"
    assert PlanBudget.objects.count() == 2
    with pytest.raises(Exception) as err:
        services.budgets_import(actor=people["county"], source=b"county,year,budget_wan\n330106,2020,-5\n")
    assert "2" in err.value.message and "预算（万元）" in err.value.fields["rows"][0]  # the column in words
    result = services.budgets_import(actor=people["county"], source="county,year,budget_wan\n330106,2020,120\n",
                                     period=period)
    assert result == {"rows": 1, "created": 0, "updated": 1, "unchanged": 0}


@pytest.mark.django_db
def test_budget_bytes_are_utf8_with_or_without_a_bom_or_gbk_and_nothing_else(people, xihu, period):
    text = "county,year,budget_wan\n330106,2020,100\n"
    assert services.budget_file_text(text.encode("utf-8")) == text
    assert services.budget_file_text(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    # what Chinese Excel saves as "CSV": GBK, here with a note column in Chinese
    chinese = "county,year,budget_wan,备注\n330106,2020,100,区财政安排\n".encode("gbk")
    assert services.budget_file_text(chinese).endswith("区财政安排\n")
    result = services.budgets_import(actor=people["county"], source=chinese, period=period)
    assert result == {"rows": 1, "created": 1, "updated": 0, "unchanged": 0}
    assert PlanBudget.objects.get(county__code="330106", year=2020).budget_wan == 100
    latin = "county,year,budget_wan\n330106,2020,100\n# café\n".encode("latin-1")  # é then a newline: not GBK
    for bad in (latin, b"\xff\xfe\x00\xd8" + b"\x00" * 8):
        with pytest.raises(services.ServiceError) as err:
            services.budget_file_text(bad)
        assert err.value.code == "budget_file_invalid" and "GBK" in err.value.message
    with pytest.raises(services.ServiceError) as err:
        services.budgets_import(actor=people["county"], source=latin, period=period)
    assert err.value.code == "budget_file_invalid" and "UTF-8" in err.value.message
    result = services.budgets_import(actor=people["county"], source=b"\xef\xbb\xbf" + text.encode("utf-8"),
                                     period=period)
    assert result["rows"] == 1


@pytest.mark.django_db
def test_budget_form_saves_all_years_or_none_and_refuses_what_the_column_cannot_hold(people, xihu, period):
    from gaizao.plans.models import PlanBudget

    client = Client()
    client.force_login(people["county"])
    first, second = period.years[0], period.years[1]
    url = reverse("plans:budgets")
    r = client.post(url, {"region": "330106", "county": "330106", f"budget_{first}": "100",
                          f"budget_{second}": "abc"})
    assert r.status_code in (302, 400) and not PlanBudget.objects.exists()  # the good year was not kept either
    r = client.post(url, {"region": "330106", "county": "330106", f"budget_{first}": "99999999999"})
    assert r.status_code in (302, 400) and not PlanBudget.objects.exists()
    with pytest.raises(Exception) as err:
        services.budgets_import(actor=people["county"], source=f"county,year,budget_wan\n330106,{first},99999999999\n")
    assert err.value.code == "budget_file_invalid" and "预算（万元）" in err.value.fields["rows"][0]
    client.post(url, {"region": "330106", "county": "330106", f"budget_{first}": "9999999999.9999",
                      f"budget_{second}": "80"})
    assert sorted(PlanBudget.objects.values_list("year", "budget_wan")) == [
        (first, Decimal("9999999999.9999")), (second, Decimal("80"))]


@pytest.mark.django_db
def test_budget_file_problems_read_in_the_users_language_on_the_page(people, xihu, period):
    """A GBK file with a bad amount, a year outside the period and a repeated row, uploaded on the budgets
    page: each problem is named in Chinese (the default language), with its row and column, and nothing
    is saved."""
    first = period.years[0]
    data = (f"county,year,budget_wan\n330106,{first},abc\n330106,1990,5\n330106,{first + 1},5\n"
            f"330106,{first + 1},6\n").encode("gbk")
    client = Client()
    client.force_login(people["county"])
    url = reverse("plans:budgets")
    upload = SimpleUploadedFile("预算.csv", data, content_type="text/csv")
    response = client.post(url, {"region": "330106", "budget_file": upload}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert "第 2 行“预算（万元）”列：“abc”不是以万元计的金额" in shown
    assert f"第 3 行“年度”列：1990 不在 {period.start_year}—{period.end_year} 期间内" in shown
    assert f"第 5 行“县（市、区）”列：330106 {first + 1} 年已在第 4 行给出" in shown
    assert not PlanBudget.objects.exists()
    # in English when the user switched
    client.cookies["django_language"] = "en"
    upload = SimpleUploadedFile("budget.csv", b"county,year,budget_wan\n33010,2020,5\n", content_type="text/csv")
    response = client.post(url, {"region": "330106", "budget_file": upload}, follow=True)
    assert ("Row 2, column county: “33010” is not a 6-digit county code (e.g. 330106)"
            in [str(m) for m in response.context["messages"]])


@pytest.mark.django_db
def test_budget_file_with_chinese_headers_and_county_names(people, xihu, period):
    """A file as a county keeps it: Chinese headers, the county by name (or with its city before it), a
    full-width bracket; its problems name the column in words (预算（万元）, 年度, 县（市、区）)."""
    first = period.years[0]
    text = f"县（市、区）, 年度 ,预算（万元）\n西湖区,{first},6400\n杭州市西湖区,{first + 1},300.5\n"
    result = services.budgets_import(actor=people["county"], source=text.encode("gbk"), period=period)
    assert result["created"] == 2
    assert sorted(PlanBudget.objects.values_list("county__code", "year", "budget_wan")) == [
        ("330106", first, Decimal("6400")), ("330106", first + 1, Decimal("300.5"))]
    with pytest.raises(ServiceError) as err:
        services.budgets_import(actor=people["county"], period=period,
                                source=f"区县,年份,预算\n西胡区,{first},1\n330106,{first},abc\n330106,20x0,1\n")
    rows = err.value.fields["rows"]
    assert rows[0].startswith("第 2 行“县（市、区）”列：“西胡区”：") and "西湖区" in rows[0]  # did you mean
    assert rows[1] == "第 3 行“预算（万元）”列：“abc”不是以万元计的金额"
    assert rows[2] == "第 4 行“年度”列：“20x0”不是年份"
    with pytest.raises(ServiceError) as err:
        services.budgets_import(actor=people["county"], period=period, source="区县,预算\n330106,1\n")
    assert err.value.fields["rows"] == ["第 1 行“年度”列：缺少此列（表头应为 县（市、区）,年度,预算（万元），或 county,year,budget_wan）"]


@pytest.mark.django_db
def test_candidates_counted_as_listed_projects_with_their_figures_and_the_rest_left_out_in_words(
        xihu_pool, people, xihu, period):
    """The run's count of candidates is what its counties list; a merged project (片区) is scheduled with its
    estates' figures; what cannot be scheduled in the period (a pool year after it, a project with an estate
    not in the pool) is left out, named, with the reason; the solver's status reads in words."""
    street = xihu_pool["estates"][0].region
    late = pool_estate("330106", pool_year=2026, name="二〇二六入库小区")
    half = merged_project("P330106HALF", "半入库片区", street, (2021,), surveyed=1)
    later = merged_project("P330106LATE", "晚入库片区", street, (2026, 2026))
    result = selectors.run_optimiser(xihu, period, time_limit=20)
    assert result["candidates"] == 10 == sum(c["candidates"] for c in result["counties"])
    assert result["left_out_count"] == 3
    assert {r["id"]: r["reason"] for r in result["left_out"]["330106"]} == {
        f"e{late.pk}": "after_period", f"p{half.pk}": "members_not_pooled", f"p{later.pk}": "after_period"}
    project_key = f"p{xihu_pool['project'].pk}"
    assert project_key in {r["id"] for r in result["schedule"]}

    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    client = Client()
    client.force_login(people["county"])
    client.post(reverse("plans:optimise", args=[plan.pk]))
    run = OptimisationRun.objects.get()
    view = selectors.proposal_view(run, plan)
    row = next(r for r in view["rows"] if r["key"] == project_key)
    assert (row["priority"], row["households"], row["estates"], row["cost_wan"]) == (
        Decimal("60.00"), 300, 2, "480.0000")
    assert all(r["priority"] is not None and r["households"] is not None and r["cost_wan"] is not None
               for r in view["rows"])
    assert {r["key"] for r in view["rows"]} == set(run.result["candidate_ids"]["330106"])
    page = client.get(reverse("plans:optimise", args=[plan.pk])).content.decode()
    assert "候选项目 10 个" in page and "另有 3 个项目库条目不能排入本计划期" in page
    left = page.split('data-testid="left-out"', 1)[1].split("</section>", 1)[0]
    assert "二〇二六入库小区" in left and "2026 年入库，晚于计划期" in left
    assert "半入库片区" in left and "片区内尚有小区未入项目库" in left and "晚入库片区" in left
    assert 'data-testid="county-status">最优<' in page and ">optimal<" not in page
    region_page = client.get(reverse("plans:region-optimise"), {"region": "330106"}).content.decode()
    assert "<td>最优</td>" in region_page


def test_greedy_misses_in_words_with_whole_estates():
    from gaizao.plans.views import _violation_words

    cands = [optimiser.Candidate(id=f"c{i}", county="330106", priority=Decimal(10), households=10,
                                 floor_area=Decimal(100), cost_wan=Decimal(1)) for i in range(24)]
    inst = optimiser.Instance(cands, 2020, 2022, targets=[optimiser.Target(-1, 1)], model_rule=None)
    misses = optimiser.verify_schedule(inst, {f"c{i}": 2020 for i in range(23)})
    assert [v.detail for v in misses] == ["23 of 24 estates by 2022, needs 100%"]  # not 23.0 of 24.0
    with translation.override("zh-hans"):
        words = _violation_words([v.as_dict() for v in misses], "330106")
    assert words == [{"year": 2022, "what": "未达目标", "detail": "至 2022 年底完成 23 / 24 个小区，需达 100%"}]
    # a run kept before the numbers were stored says what, without English
    with translation.override("zh-hans"):
        old = _violation_words([{"code": "target_missed", "county": "330106", "year": 2022,
                                 "detail": "23.0 of 24.0 estates by 2022, needs 100%"}], "330106")
    assert old == [{"year": 2022, "what": "未达目标", "detail": ""}]


@pytest.mark.django_db
def test_greedy_misses_read_as_a_chinese_sentence_on_the_page(people, xihu, period):
    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    miss = {"code": "target_missed", "county": "330106", "year": 2022, "detail": "23 of 24 estates by 2022, needs 100%",
            "params": {"done": "23", "total": "24", "unit": "estates", "share": "100"}}
    services.optimisation_run_save(actor=None, region=xihu, period=period, params={}, result={
        "status": "optimal", "feasible": True, "objective": 1.0, "greedy_objective": 1.0, "schedule": [],
        "counties": [], "candidate_ids": {}, "greedy_violations": [miss]})
    client = Client()
    client.force_login(people["county"])
    page = client.get(reverse("plans:optimise", args=[plan.pk])).content.decode()
    assert "2022 年：未达目标（至 2022 年底完成 23 / 24 个小区，需达 100%）" in page
    assert "of 24" not in page and "23.0" not in page
