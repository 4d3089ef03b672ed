"""Garbage collection over REST, for system administrators: history, run (or dry run), stop, schedule."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.rbac.principals import Resource, require
from portal.rbac.roles import Action, SystemResource
from portal.storage import gc
from portal.storage.api.serializers import (
    GCRunRequestSerializer,
    GCRunSerializer,
    GCScheduleSerializer,
)
from portal.storage.filters import GCRunFilter
from portal.storage.models import GCRun, GCSchedule
from portal.utilities.requests import client_address

GC = Resource.system(SystemResource.GARBAGE_COLLECTION)


class GCRunListView(generics.ListAPIView):
    """The runs, newest first; POST starts one (`dry_run` reports what it would delete, per project)."""

    serializer_class = GCRunSerializer
    filterset_class = GCRunFilter

    def get_queryset(self) -> QuerySet[GCRun]:
        if getattr(self, "swagger_fake_view", False):
            return GCRun.objects.none()
        require(self.request.user, Action.LIST, GC)
        return GCRun.objects.order_by("-created_at", "-id")

    @extend_schema(request=GCRunRequestSerializer, responses={202: GCRunSerializer})
    def post(self, request: Request) -> Response:
        data = GCRunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = gc.request_run(request.user, source_ip=client_address(request), **data.validated_data)
        return Response(GCRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class GCRunDetailView(generics.RetrieveAPIView):
    """One run and its progress."""

    serializer_class = GCRunSerializer

    def get_queryset(self) -> QuerySet[GCRun]:
        if getattr(self, "swagger_fake_view", False):
            return GCRun.objects.none()
        require(self.request.user, Action.READ, GC)
        return GCRun.objects.all()


class GCStopView(APIView):
    """Asks the unfinished run to stop between two batches."""

    @extend_schema(request=None, responses=GCRunSerializer)
    def post(self, request: Request) -> Response:
        return Response(GCRunSerializer(gc.request_stop(request.user, source_ip=client_address(request))).data)


class GCScheduleView(APIView):
    """The cron expression scheduled runs follow."""

    @extend_schema(responses=GCScheduleSerializer)
    def get(self, request: Request) -> Response:
        require(request.user, Action.READ, GC)
        return Response(GCScheduleSerializer(GCSchedule.load()).data)

    @extend_schema(request=GCScheduleSerializer, responses=GCScheduleSerializer)
    def put(self, request: Request) -> Response:
        require(request.user, Action.UPDATE, GC)
        data = GCScheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = gc.set_schedule(request.user, data.validated_data["cron"],
                                   data.validated_data.get("delete_untagged", False), client_address(request))
        return Response(GCScheduleSerializer(schedule).data)
