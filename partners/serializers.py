"""The partner directory's API representations: what ``/api/v1/`` returns
and what the directory's webhook events carry (``partners.events``)."""

from rest_framework import serializers

from .models import Partner, Region, Tier, TierChange


class TierRef(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "name", "rank"]


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "name", "rank", "benefits"]


class RegionRef(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "code", "name"]


class PersonRef(serializers.Serializer):
    name = serializers.CharField(source="get_full_name")
    email = serializers.EmailField()


class PartnerSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(source="partner_type", choices=Partner.Type.choices)
    country = serializers.CharField(source="country.code")
    region = RegionRef(read_only=True)
    tier = TierRef(read_only=True)
    channel_manager = PersonRef(read_only=True, allow_null=True)

    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "legal_name",
            "website",
            "domain",
            "type",
            "country",
            "region",
            "tier",
            "status",
            "channel_manager",
            "phone",
            "address",
            "created_at",
            "updated_at",
        ]


class PartnerRef(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name"]


class TierChangeSerializer(serializers.ModelSerializer):
    """A dated move in a partner's tier history (``partner.tier_changed``)."""

    partner = PartnerRef(read_only=True)
    tier = TierRef(read_only=True)
    previous = TierRef(read_only=True, allow_null=True)

    class Meta:
        model = TierChange
        fields = [
            "id",
            "partner",
            "tier",
            "previous",
            "effective_on",
            "reason",
            "note",
            "created_at",
        ]
