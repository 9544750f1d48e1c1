from utilitarian.routers import Router

router = Router()
