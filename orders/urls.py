"""POS screens of orders, mounted at /pos/ (billing's screens share the prefix with their own paths)."""

from django.urls import path

from orders import views

app_name = "orders"
urlpatterns = [
    path("", views.floor, name="floor"),
    path("switch/", views.switch, name="switch"),
    path("lock/", views.lock, name="lock"),
    path("pin/", views.set_my_pin, name="set_pin"),
    path("products/", views.products, name="products"),
    path("orders/new/", views.open_order, name="open_order"),
    path("orders/<uuid:order_uuid>/", views.order_screen, name="order"),
    path("orders/<uuid:order_uuid>/lines/", views.add_line, name="add_line"),
    path("orders/<uuid:order_uuid>/lines/<int:line_id>/", views.change_line, name="change_line"),
    path("orders/<uuid:order_uuid>/lines/<int:line_id>/void/", views.void_line, name="void_line"),
    path("orders/<uuid:order_uuid>/discount/", views.discount, name="discount"),
    path("orders/<uuid:order_uuid>/send/", views.send_to_kitchen, name="send"),
    path("orders/<uuid:order_uuid>/hold/", views.hold, name="hold"),
    path("orders/<uuid:order_uuid>/resume/", views.resume, name="resume"),
    path("orders/<uuid:order_uuid>/move/", views.move_table, name="move"),
    path("orders/<uuid:order_uuid>/void/", views.void_order, name="void_order"),
    path("orders/<uuid:order_uuid>/split/", views.split, name="split"),
    path("orders/<uuid:order_uuid>/customer/", views.customer, name="customer"),
    path("orders/<uuid:order_uuid>/customer/new/", views.customer_new, name="customer_new"),
    path("customers/search/", views.customer_search, name="customer_search"),
    path("kitchen/", views.kitchen, name="kitchen"),
    path("kitchen/board/", views.kitchen_board, name="kitchen_board"),
    path("kitchen/sound/", views.kitchen_sound, name="kitchen_sound"),
    path("kitchen/tickets/<int:ticket_id>/bump/", views.kitchen_bump, name="kitchen_bump"),
    path("kitchen/tickets/<int:ticket_id>/recall/", views.kitchen_recall, name="kitchen_recall"),
]
