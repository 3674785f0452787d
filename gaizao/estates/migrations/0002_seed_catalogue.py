"""Seed the content catalogue (国办发〔2020〕23号 three classes plus the 2019 Zhejiang notice's additions)
and the province default rules when the region tree is already loaded."""

from django.db import migrations

NATIONAL = "国办发〔2020〕23号"
SEED = "浙建〔2019〕 指导意见"

# code, name, English name, class, synonyms, source
ITEMS = [
    ("water_supply", "供水设施", "Water supply", "basic", ["供水", "自来水", "水管", "二次供水", "水压低", "给水"], NATIONAL),
    ("drainage", "排水设施", "Drainage", "basic", ["排水", "雨污分流", "污水", "下水道", "管道堵塞", "积水", "污水零直排"], NATIONAL),
    ("power", "供电设施", "Power supply", "basic", ["供电", "电力", "电线老化", "用电", "电表", "强电"], NATIONAL),
    ("weak_current", "弱电设施", "Low-voltage and telecom lines", "basic", ["弱电", "通信线路", "有线电视", "弱电线路"], NATIONAL),
    ("roads", "道路", "Roads", "basic", ["道路", "路面", "路面破损", "小区道路"], NATIONAL),
    ("gas", "供气设施", "Gas supply", "basic", ["燃气", "天然气", "管道燃气", "煤气", "供气"], NATIONAL),
    ("heating", "供热设施", "Heating", "basic", ["供热", "供暖", "暖气"], NATIONAL),
    ("fire_safety", "消防设施", "Fire safety", "basic", ["消防", "消防通道", "消火栓", "灭火器", "消防设施"], NATIONAL),
    ("security", "安防设施", "Security", "basic", ["安防", "门禁", "监控", "视频监控", "治安"], NATIONAL),
    ("waste_sorting", "生活垃圾分类设施", "Waste sorting", "basic", ["垃圾分类", "垃圾", "垃圾房", "垃圾分类设施"], NATIONAL),
    ("mobile_signal", "移动通信设施", "Mobile signal", "basic", ["移动通信", "手机信号", "基站", "信号差"], NATIONAL),
    ("fibre", "光纤入户", "Fibre to the home", "basic", ["光纤", "宽带", "光纤到户"], NATIONAL),
    ("overhead_lines", "架空线规整", "Tidying overhead lines", "basic", ["架空线", "飞线", "线缆杂乱", "上改下", "线路规整", "强弱电上改下"], NATIONAL),
    ("roof", "屋面", "Roofs", "basic", ["屋面", "屋顶", "屋面渗漏", "漏水", "屋面整修", "平改坡"], NATIONAL),
    ("external_walls", "外墙", "External walls", "basic", ["外墙", "外立面", "墙面脱落", "立面整治", "外墙渗漏"], NATIONAL),
    ("stairs", "楼梯", "Stairs", "basic", ["楼梯", "楼道", "楼梯间", "楼道破损"], NATIONAL),
    ("illegal_structures", "拆除违法建设", "Removing illegal structures", "improvement", ["违建", "违法建筑", "拆违", "违章搭建"], NATIONAL),
    ("greening", "绿化", "Greening", "improvement", ["绿化", "绿地", "景观", "环境整治"], NATIONAL),
    ("lighting", "照明", "Lighting", "improvement", ["照明", "路灯", "楼道灯", "亮化"], NATIONAL),
    ("elderly_barrier_free", "适老化和无障碍设施", "Elderly-friendly and barrier-free facilities", "improvement", ["适老化", "无障碍", "坡道", "扶手", "无障碍改造", "适老化改造"], NATIONAL),
    ("parking", "停车设施", "Parking", "improvement", ["停车", "停车位", "停车场", "车位", "停车难", "停车泊位"], NATIONAL),
    ("charging", "电动自行车及汽车充电设施", "E-bike and car charging", "improvement", ["充电", "充电桩", "电动车充电", "电瓶车充电", "充电设施"], NATIONAL),
    ("smart_lockers", "智能快件箱和信包箱", "Parcel and letter lockers", "improvement", ["快递柜", "快件箱", "信报箱", "信包箱", "智能快件箱"], NATIONAL),
    ("culture_sports", "文化休闲和体育健身设施", "Culture and sports facilities", "improvement", ["健身", "文体", "休闲设施", "运动", "健身器材", "运动休闲设施"], NATIONAL),
    ("property_rooms", "物业用房", "Property-management rooms", "improvement", ["物业用房", "物业管理用房"], NATIONAL),
    ("energy_saving", "建筑节能改造", "Energy-saving retrofit", "improvement", ["节能", "保温", "节能改造"], NATIONAL),
    ("elevators", "加装电梯", "Adding elevators", "improvement", ["电梯", "加装电梯", "加梯", "无电梯"], NATIONAL),
    ("community_service_centre", "社区综合服务设施", "Community service centre", "enhancement", ["社区服务中心", "社区用房", "综合服务", "社区综合服务中心"], NATIONAL),
    ("health_station", "卫生服务站", "Health station", "enhancement", ["卫生站", "卫生服务站", "社区医疗", "社区卫生站"], NATIONAL),
    ("kindergarten", "幼儿园", "Kindergarten", "enhancement", ["幼儿园", "配套幼儿园"], NATIONAL),
    ("smart_sensing", "周界防护和智慧感知设施", "Perimeter and smart sensing", "enhancement", ["智慧安防", "周界", "智能感知", "智慧小区", "智能化"], NATIONAL),
    ("elderly_care", "养老服务设施", "Elderly care", "enhancement", ["养老", "居家养老", "日间照料", "养老服务"], NATIONAL),
    ("child_care", "托育设施", "Child care", "enhancement", ["托育", "托儿", "抚幼", "托幼"], NATIONAL),
    ("meals", "助餐设施", "Meals", "enhancement", ["助餐", "老年食堂", "食堂", "助餐点"], NATIONAL),
    ("housekeeping", "家政保洁", "Housekeeping", "enhancement", ["家政", "保洁", "家政服务"], NATIONAL),
    ("market", "便民市场", "Markets", "enhancement", ["菜市场", "农贸市场", "便民市场"], NATIONAL),
    ("convenience_store", "便利店", "Convenience stores", "enhancement", ["便利店", "超市", "小超市"], NATIONAL),
    ("postal_express", "邮政快递末端服务站", "Postal and express stations", "enhancement", ["邮政", "快递", "驿站", "快递驿站", "快递服务"], NATIONAL),
    ("sponge_city", "海绵设施改造", "Sponge-city works", "improvement", ["海绵", "+海绵", "海绵城市", "海绵设施"], SEED),
    ("monitoring_network", "安防消防监控联网", "Security and fire monitoring, networked", "basic", ["消防监控", "监控联网", "安防联网", "视频监控系统"], SEED),
    ("home_info_services", "家居信息服务系统", "Home information services (emergency call, remote meter reading)", "enhancement", ["紧急呼叫", "远程抄表", "家居信息服务", "一键呼叫"], SEED),
    ("historic_conservation", "历史文化街区保护修缮", "Historic-district conservation", "improvement", ["历史文化街区", "历史街区", "保护修缮", "风貌保护"], SEED),
]


def seed(apps, schema_editor):
    CatalogueItem = apps.get_model("estates", "CatalogueItem")
    for sort, (code, name, name_en, content_class, synonyms, source) in enumerate(ITEMS, start=1):
        CatalogueItem.objects.update_or_create(code=code, defaults={
            "name": name, "name_en": name_en, "content_class": content_class, "synonyms": synonyms,
            "source": source, "sort": sort * 10, "is_active": True})
    Region = apps.get_model("regions", "Region")
    province = Region.objects.filter(code="33").first()
    if province is not None:
        apps.get_model("estates", "EligibilityPolicy").objects.get_or_create(
            region=province, defaults={"priority_housing_types": ["reformed_public", "public"]})
        apps.get_model("estates", "PriorityWeights").objects.get_or_create(region=province)


def unseed(apps, schema_editor):
    apps.get_model("estates", "CatalogueItem").objects.filter(code__in=[i[0] for i in ITEMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("estates", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
