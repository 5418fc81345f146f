"""Test credentials and fixed ids (test data, not secrets), and fixed provider catalogues."""

QODER_TOKENS = {"pt-test-admin": "admin", "pt-test-readonly": "readonly"}

HW_DOMAIN = {"id": "d0000000000000000000000000000001", "name": "test-domain"}
HW_PROJECT = {"id": "p0000000000000000000000000000001", "name": "cn-north-4"}
HW_USER = {"id": "u0000000000000000000000000000001", "name": "test-user",
           "password": "test-password"}
HW_FIXED_TOKEN = "hw-test-token"
HW_SECURITY_TOKEN = "hw-test-security-token"
# AK -> (SK, security token that must accompany it or None)
HW_ACCESS_KEYS = {
    "HWTESTAK0000000000000": ("HWTESTSK00000000000000000000000000000000", None),
    "HWTEMPAK0000000000000": ("HWTEMPSK00000000000000000000000000000000",
                              HW_SECURITY_TOKEN),
}
HW_MAX_CLOCK_SKEW_S = 15 * 60
HW_DEFAULT_TOKEN_TTL_S = 24 * 3600

# CodeArts Deploy: the execution states of an application (list filter ``states``)
DEPLOY_APP_STATES = ("abort", "failed", "not_started", "pending", "running", "succeeded", "timeout",
                     "not_executed")

# EPS resource-type catalogue (GET /v1.0/enterprise-projects/providers), by provider:
# provider -> ((en-us, zh-cn) display names, {resource type -> (en-us, zh-cn) display names}).
# The options module checks eps_errors against it, so it lives here, below every other module.
EPS_PROVIDERS = {
    "ecs": (("Elastic Cloud Server", "弹性云服务器"), {"ecs": ("ECS", "云服务器")}),
    "as": (("Auto Scaling", "弹性伸缩"), {"scaling_group": ("Scaling group", "伸缩组")}),
    "ims": (("Image Management Service", "镜像服务"), {"images": ("Image", "镜像")}),
    "evs": (("Elastic Volume Service", "云硬盘"), {"disk": ("Disk", "磁盘")}),
    "vpc": (("Virtual Private Cloud", "虚拟私有云"),
            {"vpcs": ("VPC", "虚拟私有云"), "security-groups": ("Security group", "安全组"),
             "shared_bandwidth": ("Shared bandwidth", "共享带宽"), "eip": ("EIP", "弹性公网IP")}),
    "rds": (("Relational Database Service", "云数据库"), {"rds": ("DB instance", "数据库实例")}),
    "dcs": (("Distributed Cache Service", "分布式缓存服务"), {"dcs": ("Cache instance", "缓存实例")}),
    "dds": (("Document Database Service", "文档数据库服务"),
            {"dds": ("DDS instance", "文档数据库实例")}),
    "cce": (("Cloud Container Engine", "云容器引擎"), {"cce-cluster": ("Cluster", "集群")}),
    "cbr": (("Cloud Backup and Recovery", "云备份"), {"vault": ("Vault", "存储库")}),
    "obs": (("Object Storage Service", "对象存储服务"), {"bucket": ("Bucket", "桶")}),
    "elb": (("Elastic Load Balance", "弹性负载均衡"),
            {"loadbalancers": ("Load balancer", "负载均衡器")}),
    "nosql": (("GeminiDB", "云数据库 GeminiDB"), {"nosql": ("GeminiDB instance", "GeminiDB 实例")}),
    "gaussdb": (("GaussDB", "云数据库 GaussDB"), {"gaussdb": ("GaussDB instance", "GaussDB 实例")}),
    "kms": (("Data Encryption Workshop", "数据加密服务"), {"kms": ("Key", "密钥")}),
    "waf": (("Web Application Firewall", "Web应用防火墙"), {"waf": ("WAF instance", "WAF 实例")}),
    "dws": (("Data Warehouse Service", "数据仓库服务"), {"dws_clusters": ("Cluster", "集群")}),
    "cdn": (("Content Delivery Network", "内容分发网络"), {"cdn": ("Domain name", "加速域名")}),
}
# resource types that belong to no region project (project_id "" in resources/filter)
EPS_GLOBAL_TYPES = frozenset({"cdn"})
EPS_RESOURCE_TYPES = frozenset(rtype for _, types in EPS_PROVIDERS.values() for rtype in types)
