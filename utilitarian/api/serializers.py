from __future__ import annotations

from rest_framework import serializers

from ..models import Organization, OrganizationMembership, User
from ..tenancy import TenantModelSerializer


class OrganizationSerializer(TenantModelSerializer):
    organization_field = None  # the organization itself has no organization field
    members = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "name", "is_active", "members", "created_at", "updated_at"]


class OrganizationMembershipSerializer(TenantModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())

    class Meta:
        model = OrganizationMembership
        fields = ["id", "organization", "user", "role", "created_at", "updated_at"]
        validators: list = []  # the pair check in validate() names the field at fault

    def validate(self, attrs):
        organization = attrs.get("organization", getattr(self.instance, "organization", None))
        user = attrs.get("user", getattr(self.instance, "user", None))
        clash = OrganizationMembership.objects.filter(organization=organization, user=user)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(
                {"user": ["This user is already a member of the organization."]}
            )
        return attrs


class ObtainTokenSerializer(serializers.Serializer):
    username = serializers.CharField(min_length=1)
    password = serializers.CharField(min_length=1, trim_whitespace=False, write_only=True)
    organization = serializers.UUIDField(required=False, allow_null=True)


class ChangeOrganizationSerializer(serializers.Serializer):
    organization = serializers.UUIDField()


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    organization = serializers.UUIDField()
